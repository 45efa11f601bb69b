// arkv: LLM inference with an adaptive mixed-precision KV cache.
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{
      "arkv: LLM inference under a KV memory budget (ARKV adaptive mixed-precision cache)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "arkv 0.1.0");
  arkv::cli::AddGenerateCommand(app);
  arkv::cli::AddTokenizeCommand(app);
  arkv::cli::AddLogitsCommand(app);
  arkv::cli::AddPerplexityCommand(app);
  arkv::cli::AddInspectCommand(app);
  arkv::cli::AddMakeModelCommand(app);
  arkv::cli::AddEvalCommand(app);
  arkv::cli::AddBenchCommand(app);
  arkv::cli::AddBenchBatchCommand(app);
  arkv::cli::AddServeCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // A bad flag or value: the project's one-line error and status 1, as for
    // every other bad input (CLI11's own exit codes and help hints vary).
    std::fprintf(stderr, "arkv: error: %s\n", e.what());
    return 1;
  } catch (const arkv::Error& e) {
    std::fprintf(stderr, "arkv: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "arkv: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "arkv: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
