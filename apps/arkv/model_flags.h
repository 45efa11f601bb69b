// The model flags of every command that runs a model (-m / --hf, -t,
// --matmul) and the one loader that honours all of them.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "model/model.h"

namespace arkv::cli {

struct ModelFlags {
  std::string path;             // -m
  std::string hf_spec;          // --hf OWNER/REPO[:FILE]
  int threads = 0;              // -t, 0 = all hardware threads
  std::string matmul = "ggml";  // --matmul: ggml (llama.cpp's arithmetic) or float (exact)
};

void AddModelFlags(CLI::App& cmd, ModelFlags& flags);

struct LoadedModel {
  std::string path;
  std::string sha256;  // empty unless asked for
  std::unique_ptr<Model> model;
};
// Resolves -m / --hf to a local file (downloading it if needed) and loads it
// with every model option of the flags; with `hash`, also its SHA-256.
LoadedModel LoadModel(const ModelFlags& flags, bool hash = false);

int ThreadCount(const ModelFlags& flags);

}  // namespace arkv::cli
