#include "eval/longbench_zh_words.h"

#include <mutex>

#include "core/error.h"
#include "tokenizer/unicode.h"

// Last: friso's headers define macros with common names (print, ...).
extern "C" {
#include <friso/friso.h>
#include <friso/friso_API.h>
}
#undef print

namespace arkv::eval {
namespace {

constexpr char kFrisoIni[] = "/etc/friso/friso.ini";

// One friso instance for the process: its dictionary takes a second to load.
struct Friso {
  friso_t friso = nullptr;
  friso_config_t config = nullptr;
  std::mutex mutex;  // friso's task functions are not documented as thread-safe
};

Friso& Instance() {
  static Friso* instance = [] {
    auto* f = new Friso;
    f->friso = friso_new();
    f->config = friso_new_config();
    std::string ini = kFrisoIni;
    if (friso_init_from_ifile(f->friso, f->config, ini.data()) != 1) {
      Fail(
          "cannot load the friso Chinese word segmenter from {} (install the Debian packages "
          "libfriso0 and friso-dict)",
          kFrisoIni);
    }
    f->config->add_syn = 0;    // no synonyms added as extra words
    f->config->en_sseg = 0;    // no secondary split of mixed words
    f->config->clr_stw = 0;    // keep stop words
    f->config->keep_urec = 1;  // keep characters outside the dictionary
    friso_set_mode(f->config, __FRISO_COMPLEX_MODE__);
    return f;
  }();
  return *instance;
}

}  // namespace

std::vector<std::string> LongBenchChineseWords(std::string_view text) {
  Friso& f = Instance();
  const std::string valid = unicode::Sanitize(text);
  std::vector<std::string> words;
  std::lock_guard<std::mutex> lock(f.mutex);
  friso_task_t task = friso_new_task();
  std::string buffer = valid;  // friso takes a mutable C string
  friso_set_text(task, buffer.data());
  while (f.config->next_token(f.friso, f.config, task) != nullptr) {
    const friso_token_t tok = task->token;
    // Words are taken from the original text: friso's copy is lower-cased
    // (Latin letters) and cut at 64 bytes.
    const size_t offset = tok->offset < 0 ? valid.size() : static_cast<size_t>(tok->offset);
    if (offset + tok->length <= valid.size()) {
      words.push_back(valid.substr(offset, tok->length));
    } else {
      words.emplace_back(tok->word);
    }
  }
  friso_free_task(task);
  return words;
}

std::string_view ChineseSegmenterNote() {
  return "zh word metrics (qa_f1_zh, rouge_l_zh) split words with friso (Debian libfriso, "
         "MMSEG) instead of LongBench's jieba: close, not identical";
}

}  // namespace arkv::eval
