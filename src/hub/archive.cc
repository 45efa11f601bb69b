#include "hub/archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "core/error.h"
#include "hub/hf_spec.h"

namespace arkv::hub {
namespace fs = std::filesystem;

int ExtractArchive(const std::string& archive_path, const std::string& dest_dir) {
  std::unique_ptr<archive, decltype(&archive_read_free)> reader(archive_read_new(),
                                                                &archive_read_free);
  archive_read_support_format_all(reader.get());
  archive_read_support_filter_all(reader.get());
  if (archive_read_open_filename(reader.get(), archive_path.c_str(), 1 << 16) != ARCHIVE_OK) {
    Fail("cannot open archive {}: {}", archive_path, archive_error_string(reader.get()));
  }
  std::error_code ec;
  fs::create_directories(dest_dir, ec);
  if (ec) {
    Fail("cannot create {}: {}", dest_dir, ec.message());
  }
  int files = 0;
  archive_entry* entry = nullptr;
  while (true) {
    const int status = archive_read_next_header(reader.get(), &entry);
    if (status == ARCHIVE_EOF) {
      break;
    }
    if (status != ARCHIVE_OK && status != ARCHIVE_WARN) {
      Fail("archive {} is damaged: {}", archive_path, archive_error_string(reader.get()));
    }
    std::string name = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    const auto type = archive_entry_filetype(entry);
    while (name.ends_with('/')) {
      name.pop_back();
    }
    if (type == AE_IFDIR) {
      continue;  // folders are created with their files
    }
    if (type != AE_IFREG) {
      Fail("archive {}: entry '{}' is not a regular file; refusing to unpack it", archive_path,
           name);
    }
    if (!IsSafeRelativePath(name)) {
      Fail("archive {}: entry '{}' would be written outside {}", archive_path, name, dest_dir);
    }
    const fs::path out_path = fs::path(dest_dir) / name;
    fs::create_directories(out_path.parent_path(), ec);
    const std::string tmp = out_path.string() + ".part";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) {
        Fail("cannot write {}", tmp);
      }
      char buffer[1 << 16];
      while (true) {
        const la_ssize_t n = archive_read_data(reader.get(), buffer, sizeof(buffer));
        if (n == 0) {
          break;
        }
        if (n < 0) {
          Fail("archive {}: cannot read entry '{}': {}", archive_path, name,
               archive_error_string(reader.get()));
        }
        out.write(buffer, n);
      }
      if (!out.flush()) {
        Fail("cannot write {}", tmp);
      }
    }
    fs::rename(tmp, out_path, ec);
    if (ec) {
      Fail("cannot rename {} to {}: {}", tmp, out_path.string(), ec.message());
    }
    ++files;
  }
  return files;
}

}  // namespace arkv::hub
