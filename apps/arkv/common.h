// Helpers shared by the subcommands: model selection (-m or --hf), thread
// count, token id lists and files.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace arkv::cli {

struct ModelOptions {
  std::string path;     // -m
  std::string hf_spec;  // --hf OWNER/REPO[:FILE]
  int threads = 0;      // -t, 0 = all hardware threads
  std::string matmul = "ggml";  // --matmul: ggml (llama.cpp's arithmetic) or float (exact)
};

// Adds -m/--model, --hf and -t/--threads to a subcommand.
void AddModelOptions(CLI::App& cmd, ModelOptions& opts);
// Resolves -m/--hf to a local path (downloading if needed) and loads it.
std::unique_ptr<Model> LoadModel(const ModelOptions& opts);
int ThreadCount(const ModelOptions& opts);

// "1,2,3" or "1 2 3" -> ids; throws on anything that is not an integer.
std::vector<int32_t> ParseIdList(const std::string& text);
// A file of integers separated by whitespace or commas.
std::vector<int32_t> ReadIdFile(const std::string& path);
std::string ReadTextFile(const std::string& path);

// "12.3 KiB" style.
std::string FormatBytes(double bytes);

}  // namespace arkv::cli
