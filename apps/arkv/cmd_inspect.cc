// arkv inspect: metadata and tensors of a GGUF file, and the model it holds.
#include <cstdio>
#include <string>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "model/config.h"

namespace arkv::cli {
namespace {

std::string Scalar(const gguf::Value& v) {
  switch (v.type) {
    case gguf::ValueType::kString: {
      std::string s = v.AsString("");
      if (s.size() > 80) s = s.substr(0, 77) + "...";
      return fmt::format("\"{}\"", s);
    }
    case gguf::ValueType::kBool:
      return v.AsBool("") ? "true" : "false";
    case gguf::ValueType::kFloat32:
    case gguf::ValueType::kFloat64:
      return fmt::format("{}", v.AsFloat(""));
    case gguf::ValueType::kUint64:
      return fmt::format("{}", v.AsUint(""));
    case gguf::ValueType::kArray: {
      const gguf::Array& a = v.AsArray("");
      std::string s = fmt::format("[{} x {}]", a.items.size(), gguf::ValueTypeName(a.elem_type));
      for (size_t i = 0; i < a.items.size() && i < 4; ++i)
        s += (i ? ", " : " ") + Scalar(a.items[i]);
      if (a.items.size() > 4) s += ", ...";
      return s;
    }
    default:
      return fmt::format("{}", v.AsInt(""));
  }
}

void RunInspect(const std::string& path, bool all_tensors) {
  auto file = gguf::GgufFile::Open(path);
  std::printf("%s: GGUF v%u, %zu bytes, alignment %zu, %zu metadata keys, %zu tensors\n",
              path.c_str(), file->version(), file->file_size(), file->alignment(),
              file->metadata().size(), file->tensors().size());
  std::printf("\nmetadata:\n");
  for (const gguf::KeyValue& kv : file->metadata()) {
    std::printf("  %-44s %-8s %s\n", kv.key.c_str(),
                std::string(gguf::ValueTypeName(kv.value.type)).c_str(), Scalar(kv.value).c_str());
  }
  std::printf("\ntensors:\n");
  size_t shown = 0;
  for (const gguf::TensorInfo& t : file->tensors()) {
    if (!all_tensors && shown == 24) {
      std::printf("  ... %zu more (--all-tensors)\n", file->tensors().size() - shown);
      break;
    }
    std::string shape;
    for (int d = 0; d < t.n_dims; ++d) shape += (d ? " x " : "") + std::to_string(t.ne[d]);
    std::printf("  %-36s %-6s [%s] %zu bytes\n", t.name.c_str(),
                std::string(GetTypeTraits(t.type).name).c_str(), shape.c_str(), t.nbytes);
    ++shown;
  }
  try {
    const ModelConfig c = ReadModelConfig(*file);
    std::printf(
        "\nmodel: %s, %d layers, n_embd %d, n_ff %d, heads %d / kv %d, head dim %d, vocab %d, "
        "rope %s base %g (n_rot %d), rms eps %g, context %d\n",
        c.arch.c_str(), c.n_layers, c.n_embd, c.n_ff, c.n_heads, c.n_kv_heads, c.head_dim,
        c.n_vocab, c.rope_style == RopeStyle::kNorm ? "norm" : "neox", c.rope_freq_base, c.n_rot,
        c.rms_eps, c.n_ctx_train);
  } catch (const Error& e) {
    std::printf("\nmodel: not runnable by arkv: %s\n", e.what());
  }
}

}  // namespace

void AddInspectCommand(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto all = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("inspect", "print the metadata and tensors of a GGUF file");
  cmd->add_option("model", *path, "GGUF file")->required();
  cmd->add_flag("--all-tensors", *all, "list every tensor (default: the first 24)");
  cmd->callback([path, all] { RunInspect(*path, *all); });
}

}  // namespace arkv::cli
