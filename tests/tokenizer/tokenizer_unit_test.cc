#include <gtest/gtest.h>

#include "tokenizer/tokenizer.h"

namespace arkv {
namespace {

TEST(Placeholder, Builds) { SUCCEED(); }

}  // namespace
}  // namespace arkv
