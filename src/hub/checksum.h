// File digests used to verify downloads against what the Hub advertises.
#pragma once

#include <string>

namespace arkv::hub {

// Lower-case hex SHA-256 of the file's contents. Throws arkv::Error if the
// file cannot be read.
std::string Sha256File(const std::string& path);

// Lower-case hex git blob id (SHA-1 of "blob <size>\0" + contents): the ETag
// the Hub sends for files stored in git rather than LFS.
std::string GitBlobSha1File(const std::string& path);

}  // namespace arkv::hub
