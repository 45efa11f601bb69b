// arkv tokenize: print the token ids of a text.
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "gguf/gguf.h"

namespace arkv::cli {
namespace {

struct TokenizeOptions {
  std::string model;
  std::string prompt;
  std::string file;
  bool no_bos = false;
  bool no_parse_special = false;
  bool pieces = false;
};

void RunTokenize(const TokenizeOptions& o) {
  if (o.model.empty()) Fail("no model: give -m MODEL.gguf");
  if (!o.prompt.empty() && !o.file.empty()) Fail("give either -p or -f, not both");
  // Only the vocabulary is needed: no weights are bound.
  auto file = gguf::GgufFile::Open(o.model);
  auto tokenizer = Tokenizer::FromGguf(*file);
  const std::string text = o.file.empty() ? o.prompt : ReadTextFile(o.file);
  const std::vector<int32_t> ids = tokenizer->Encode(text, !o.no_bos, !o.no_parse_special);
  if (o.pieces) {
    for (int32_t id : ids) std::printf("%d\t%s\n", id, tokenizer->TokenText(id).c_str());
    return;
  }
  for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
  std::printf("\n");
}

}  // namespace

void AddTokenizeCommand(CLI::App& app) {
  auto opts = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand("tokenize", "print the token ids of a text");
  cmd->add_option("-m,--model", opts->model, "GGUF model (only its vocabulary is read)")
      ->required();
  cmd->add_option("-p,--prompt", opts->prompt, "text to tokenize");
  cmd->add_option("-f,--file", opts->file, "read the text from a file");
  cmd->add_flag("--no-bos", opts->no_bos, "do not add BOS/EOS as the vocabulary asks");
  cmd->add_flag("--no-parse-special", opts->no_parse_special,
                "treat special-token texts as plain text");
  cmd->add_flag("--pieces", opts->pieces, "print one id and its token text per line");
  cmd->callback([opts] { RunTokenize(*opts); });
}

}  // namespace arkv::cli
