// The budget planner (src/kv/budget.h) against limits computed by hand.
//
// Shape of every case: 2 layers, 2 KV heads of head_dim 8, W = 4, pages of
// 128 bytes.
#include "kv/budget.h"

#include <optional>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"

namespace arkv::kv {
namespace {

constexpr CacheShape kShape{2, 4, 2, 8};
constexpr size_t kPageBytes = 128;

PlanInput Input(PolicyKind policy, Budget budget, bool quantizes, const std::vector<double>& shares,
                std::optional<int64_t> prompt = std::nullopt) {
  CacheConfig config;
  config.policy = policy;
  config.budget = budget;
  config.window = 4;
  return PlanInput{kShape, config, quantizes, shares, prompt, kPageBytes};
}

TEST(BudgetPlanner, TokensPerPageCountPositionsAndScales) {
  // f16: 4 (position) + 2 x 8 x 2 = 36 bytes; fp8: 4 + 8 (scales) + 2 x 8 = 28.
  const PageCapacity per_page = TokensPerPage(kShape, CacheConfig{}, kPageBytes);
  EXPECT_EQ(per_page.original, 3);
  EXPECT_EQ(per_page.quantized, 4);
  EXPECT_EQ(TokensPerPage(kShape, CacheConfig{}, 576).original, 16);
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

// Byte budgets count whole pages. Pages of 128 bytes hold 3 Original tokens
// (36 bytes each) or 4 Quantized ones (28); a layer's page costs 2 KV heads x
// 128 = 256 bytes. The window (W = 4) takes ceil(4 / 3) = 2 pages, 512 bytes
// a layer, 1024 for both.

TEST(BudgetPlanner, ByteBudgetOfAPolicyThatNeverQuantizes) {
  // Each layer's share 512 + (2000 - 1024) / 2 = 1000 bytes: 3 pages, 9
  // tokens, 1536 in all. Of the 464 left, layer 0 (both are 232 below their
  // share; ties go to the first) takes a 4th page (token 10, 1792), and
  // tokens 11 and 12 fill it for free; token 13 (a 5th page) or a 4th page
  // for layer 1 would reach 2048.
  const std::vector<double> shares{1, 1};
  const auto limits =
      PlanLayerLimits(Input(PolicyKind::kEvict, Budget::Bytes(2000), false, shares));
  EXPECT_EQ(limits[0].capacity, std::optional<int64_t>(12));
  EXPECT_EQ(limits[1].capacity, std::optional<int64_t>(9));
  EXPECT_EQ(limits[0].original_budget, 8);
  EXPECT_EQ(limits[1].original_budget, 5);
  EXPECT_FALSE(limits[0].original_cap.has_value());
}

TEST(BudgetPlanner, ByteBudgetOfQuantOnlyTheWindowOriginal) {
  // Only the window is Original: c tokens take 2 + ceil((c - 4) / 4) pages.
  // 3 pages (the 1000-byte share) hold c = 8; as above, layer 0 then takes a
  // 4th page and fills it: c = 12.
  const std::vector<double> shares{0, 0};
  const auto limits =
      PlanLayerLimits(Input(PolicyKind::kQuant, Budget::Bytes(2000), true, shares));
  EXPECT_EQ(limits[0].capacity, std::optional<int64_t>(12));
  EXPECT_EQ(limits[1].capacity, std::optional<int64_t>(8));
  for (const LayerLimits& l : limits) {
    EXPECT_EQ(l.original_budget, 0);
    EXPECT_EQ(l.original_cap, std::optional<int64_t>(0));
  }
}

TEST(BudgetPlanner, ByteBudgetSharedInProportionToTheOriginalSharesInWholePages) {
  // Spare 3000 - 1024 = 1976. Layer 0 (share 1, 2/3 of it): 512 + 1317 =
  // 1829 bytes, 7 pages. Any x of its c tokens may be Original; c = 20 with
  // x = 19 takes ceil(19 / 3) + ceil(1 / 4) = 8 pages, while every split of
  // c = 19 takes at most 7 (x = 19: 7; x = 16: 6 + 1): C = 19.
  // Layer 1 (share 0.5): 512 + 658 = 1170 bytes, 4 pages. c = 12 has origin
  // budget round(0.5 * 8) = 4, so x <= 8, and x = 7 takes 3 + ceil(5 / 4) =
  // 5 pages; c = 11 (budget round(3.5) = 4) takes at most 4 (x = 4: 2 + 2;
  // x = 7: 3 + 1): C = 11. 2816 bytes; a page more for either is 3072.
  const std::vector<double> shares{1, 0.5};
  const auto limits =
      PlanLayerLimits(Input(PolicyKind::kArkv, Budget::Bytes(3000), true, shares));
  EXPECT_EQ(limits[0].capacity, std::optional<int64_t>(19));
  EXPECT_EQ(limits[1].capacity, std::optional<int64_t>(11));
  EXPECT_EQ(limits[0].original_cap, std::optional<int64_t>(15));
  EXPECT_EQ(limits[1].original_cap, std::optional<int64_t>(4));
}

TEST(BudgetPlanner, ByteBudgetAfterAShortPromptCapsOriginalAtItsPast) {
  // T = 6: at most 2 past tokens Original, x <= 6, and c tokens take at most
  // 2 + ceil((c - 4) / 4) pages (x = 4): 3 pages hold c = 8, then layer 0
  // takes a 4th page and fills it (c = 12) as in the cases above.
  const std::vector<double> shares{1, 1};
  const auto limits =
      PlanLayerLimits(Input(PolicyKind::kArkv, Budget::Bytes(2000), true, shares, int64_t{6}));
  EXPECT_EQ(limits[0].capacity, std::optional<int64_t>(12));
  EXPECT_EQ(limits[1].capacity, std::optional<int64_t>(8));
  for (const LayerLimits& l : limits) EXPECT_EQ(l.original_cap, std::optional<int64_t>(2));
}

TEST(BudgetPlanner, ByteBudgetThatCannotHoldTheWindowsIsAnError) {
  const std::vector<double> shares{1, 1};
  EXPECT_THROW(PlanLayerLimits(Input(PolicyKind::kArkv, Budget::Bytes(1023), true, shares)),
               Error);
  EXPECT_NO_THROW(PlanLayerLimits(Input(PolicyKind::kArkv, Budget::Bytes(1024), true, shares)));
}

}  // namespace
}  // namespace arkv::kv
