// The subcommands of the `arkv` program. Each Add*Command registers its
// options on the CLI11 app and sets the callback that runs it; every callback
// throws arkv::Error on bad input and main() turns that into exit code 1.
#pragma once

#include <CLI/CLI.hpp>

namespace arkv::cli {

void AddGenerateCommand(CLI::App& app);
void AddTokenizeCommand(CLI::App& app);
void AddLogitsCommand(CLI::App& app);
void AddPerplexityCommand(CLI::App& app);
void AddInspectCommand(CLI::App& app);
void AddMakeModelCommand(CLI::App& app);
void AddEvalCommand(CLI::App& app);
void AddBenchCommand(CLI::App& app);
void AddBenchBatchCommand(CLI::App& app);
void AddServeCommand(CLI::App& app);

}  // namespace arkv::cli
