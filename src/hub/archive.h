// Unpacking downloaded archives (zip, tar, ...) with libarchive.
#pragma once

#include <string>

namespace arkv::hub {

// Extracts every regular file of `archive_path` under `dest_dir` (created),
// keeping folders. Refuses entries whose path would leave dest_dir (absolute,
// "..") and links. Returns the number of files written. Throws arkv::Error
// naming the archive and the entry on failure.
int ExtractArchive(const std::string& archive_path, const std::string& dest_dir);

}  // namespace arkv::hub
