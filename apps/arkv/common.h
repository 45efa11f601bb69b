// Helpers shared by the subcommands: flag checks, token id lists and files.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

namespace arkv::cli {

// Flag checks whose errors are one short line ("must be >= 1, got 0"), where
// CLI11's own print the range of the type.
CLI::Validator AtLeast(double min);
CLI::Validator InRange(double min, double max);

// The sampler flags (--temp, --top-k, --top-p, --min-p, -s/--seed) of every
// command that samples; `config`'s values are the defaults shown.
void AddSamplerFlags(CLI::App& cmd, SamplerConfig& config);

// "1,2,3" or "1 2 3" -> ids; throws on anything that is not an integer.
std::vector<int32_t> ParseIdList(const std::string& text);
// A file of integers separated by whitespace or commas.
std::vector<int32_t> ReadIdFile(const std::string& path);
std::string ReadTextFile(const std::string& path);

// "12.3 KiB" style.
std::string FormatBytes(double bytes);

}  // namespace arkv::cli
