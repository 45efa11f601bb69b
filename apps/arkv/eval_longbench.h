// `arkv eval --tasks longbench`: the flags of the LongBench task and the run
// (data from a folder or the Hugging Face dataset, resume from --json).
#pragma once

#include <string>
#include <vector>

#include "kv_flags.h"
#include "model_flags.h"

namespace arkv::cli {

struct LongBenchCommandOptions {
  std::string data;                   // --longbench DIR (empty: download THUDM/LongBench)
  std::vector<std::string> datasets;  // --datasets (empty: all 21; "e": LongBench-E)
  int max_prompt = 0;                 // --max-prompt
  std::string chat_template;          // --chat-template NAME|none (empty: the model's)
};

// Runs LongBench with the policies, budgets and KV flags of `arkv eval`.
// samples <= 0: every sample.
void RunLongBenchCommand(const ModelFlags& model, const KvFlags& kv,
                         const std::vector<std::string>& policies,
                         const std::vector<std::string>& budgets, int samples,
                         const LongBenchCommandOptions& lb, const std::string& json_file,
                         const std::string& plot_file, bool no_hash);

}  // namespace arkv::cli
