// The budget planner (src/kv/budget.h) against limits computed by hand.
//
// Shape of every case: 2 layers, 2 KV heads of head_dim 8, so one token of a
// layer costs 2 heads x (K + V) x 8 x 2 bytes = 64 bytes Original (f16) and
// 2 heads x (8 bytes of scales + 2 x 8 fp8 codes) = 48 bytes Quantized.
#include "kv/budget.h"

#include <optional>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"

namespace arkv::kv {
namespace {

constexpr CacheShape kShape{2, 4, 2, 8};

PlanInput Input(PolicyKind policy, Budget budget, bool quantizes, const std::vector<double>& shares,
                std::optional<int64_t> prompt = std::nullopt) {
  CacheConfig config;
  config.policy = policy;
  config.budget = budget;
  config.window = 4;
  return PlanInput{kShape, config, quantizes, shares, prompt};
}

TEST(BudgetPlanner, TokenBytesOfOneLayer) {
  const TokenBytes bytes = LayerTokenBytes(kShape, CacheConfig{});
  EXPECT_EQ(bytes.original, 64);
  EXPECT_EQ(bytes.quantized, 48);
}

TEST(BudgetPlanner, FullPolicyIsUnlimitedWhateverTheBudget) {
  const std::vector<double> shares{1, 1};
  for (const auto& limits : PlanLayerLimits(Input(PolicyKind::kFull, Budget::Tokens(20), false,
                                                  shares))) {
    EXPECT_FALSE(limits.capacity.has_value());
    EXPECT_FALSE(limits.original_cap.has_value());
  }
}

TEST(BudgetPlanner, TokenBudgetBeforeTheScoresKeepsTheWholePastOriginal) {
  const std::vector<double> shares{1, 1};
  const auto limits = PlanLayerLimits(Input(PolicyKind::kArkv, Budget::Tokens(20), true, shares));
  ASSERT_EQ(limits.size(), 2u);
  for (const LayerLimits& l : limits) {
    EXPECT_EQ(l.capacity, std::optional<int64_t>(20));
    EXPECT_EQ(l.original_budget, 16);  // C - W
    EXPECT_FALSE(l.original_cap.has_value());
  }
}

TEST(BudgetPlanner, TokenBudgetOriginalBudgetsRoundHalfToEvenAndStopAtThePrompt) {
  // share * (C - W) = 0.40625 * 16 = 6.5 -> 6; 0.46875 * 16 = 7.5 -> 8.
  const std::vector<double> shares{0.40625, 0.46875};
  auto limits =
      PlanLayerLimits(Input(PolicyKind::kArkv, Budget::Tokens(20), true, shares, int64_t{100}));
  EXPECT_EQ(limits[0].original_budget, 6);
  EXPECT_EQ(limits[1].original_budget, 8);
  // A prompt of 11 tokens has T - W = 7 past tokens.
  limits = PlanLayerLimits(Input(PolicyKind::kArkv, Budget::Tokens(20), true, shares, int64_t{11}));
  EXPECT_EQ(limits[0].original_budget, 6);
  EXPECT_EQ(limits[1].original_budget, 7);
  // A prompt shorter than the window: no past at all.
  limits = PlanLayerLimits(Input(PolicyKind::kArkv, Budget::Tokens(20), true, shares, int64_t{3}));
  EXPECT_EQ(limits[0].original_budget, 0);
  EXPECT_EQ(limits[1].original_budget, 0);
}

TEST(BudgetPlanner, ByteBudgetOfAPolicyThatNeverQuantizes) {
  // Windows: 2 x 4 x 64 = 512 bytes; each layer's share 256 + 488 / 2 = 500
  // bytes holds 7 Original tokens (448); of the 104 left over, layer 0 takes
  // one more token (64; ties go to the first layer), then 40 are too few.
  const std::vector<double> shares{1, 1};
  const auto limits =
      PlanLayerLimits(Input(PolicyKind::kEvict, Budget::Bytes(1000), false, shares));
  EXPECT_EQ(limits[0].capacity, std::optional<int64_t>(8));
  EXPECT_EQ(limits[1].capacity, std::optional<int64_t>(7));
  EXPECT_EQ(limits[0].original_budget, 4);
  EXPECT_EQ(limits[1].original_budget, 3);
  EXPECT_FALSE(limits[0].original_cap.has_value());
}

TEST(BudgetPlanner, ByteBudgetOfQuantOnlyTheWindowOriginal) {
  // Shares 0 split the spare bytes equally: 500 bytes a layer hold the window
  // (256) and 5 Quantized tokens (240): C = 9, 496 bytes; 8 left over.
  const std::vector<double> shares{0, 0};
  const auto limits =
      PlanLayerLimits(Input(PolicyKind::kQuant, Budget::Bytes(1000), true, shares));
  for (const LayerLimits& l : limits) {
    EXPECT_EQ(l.capacity, std::optional<int64_t>(9));
    EXPECT_EQ(l.original_budget, 0);
    EXPECT_EQ(l.original_cap, std::optional<int64_t>(0));
  }
}

TEST(BudgetPlanner, ByteBudgetSharedInProportionToTheOriginalShares) {
  // Spare 2000 - 512 = 1488 bytes: layer 0 (share 1) gets 256 + 992 = 1248,
  // all Original: 19 tokens (1216). Layer 1 (share 0.5) gets 256 + 496 = 752:
  // C = 13 has Original budget round(0.5 * 9) = 4, so 8 x 64 + 5 x 48 = 752.
  // Next tokens cost 64 each; 32 bytes are left.
  const std::vector<double> shares{1, 0.5};
  const auto limits =
      PlanLayerLimits(Input(PolicyKind::kArkv, Budget::Bytes(2000), true, shares));
  EXPECT_EQ(limits[0].capacity, std::optional<int64_t>(19));
  EXPECT_EQ(limits[1].capacity, std::optional<int64_t>(13));
  EXPECT_EQ(limits[0].original_cap, std::optional<int64_t>(15));
  EXPECT_EQ(limits[1].original_cap, std::optional<int64_t>(4));
}

TEST(BudgetPlanner, ByteBudgetAfterAShortPromptCapsOriginalAtItsPast) {
  // T = 6: at most 2 past tokens Original, so a layer of 500 bytes holds
  // 6 x 64 = 384 + 2 x 48 = 480 (C = 8); 40 bytes are left over.
  const std::vector<double> shares{1, 1};
  const auto limits =
      PlanLayerLimits(Input(PolicyKind::kArkv, Budget::Bytes(1000), true, shares, int64_t{6}));
  for (const LayerLimits& l : limits) {
    EXPECT_EQ(l.capacity, std::optional<int64_t>(8));
    EXPECT_EQ(l.original_cap, std::optional<int64_t>(2));
  }
}

TEST(BudgetPlanner, ByteBudgetThatCannotHoldTheWindowsIsAnError) {
  const std::vector<double> shares{1, 1};
  EXPECT_THROW(PlanLayerLimits(Input(PolicyKind::kArkv, Budget::Bytes(511), true, shares)), Error);
  EXPECT_NO_THROW(PlanLayerLimits(Input(PolicyKind::kArkv, Budget::Bytes(512), true, shares)));
}

}  // namespace
}  // namespace arkv::kv
