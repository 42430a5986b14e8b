#pragma once
// The bytes a run reads through its path keys (ParamType::Path), as digests stored with the run
// under files.<key> ("files: {model.file: fnv1a64:...}" in its spec): a run's recipe then holds
// what the file held, so the report never pools runs that read different files under one name,
// and a resumed run can tell that a file changed since it started. Torch-free.
#include <map>
#include <string>
#include <vector>

#include "losslab/spec/experiment_spec.h"

namespace losslab {

// FNV-1a (64 bits) over the file's bytes, and its size: "fnv1a64:<16 hex digits>:<bytes>".
// Enough to tell that a file changed (not a cryptographic hash). Throws Error
// "<path> (<key>): cannot be read" naming the key the path came from.
std::string fileDigest(const std::string& path, const std::string& key);

// The stored section's key prefix: "files.model.file" holds model.file's digest.
inline const char* const kFileDigestSection = "files";

// For every run and every path key whose value names a regular file, sets
// "files.<key>" = fileDigest (each file read once). Folders (data.root) and empty values get
// none. Throws Error naming the key and file when one cannot be read.
void addFileDigests(std::vector<RunSpec>& runs);

// The digests a stored run's spec holds (its files: section), by key ("model.file").
std::map<std::string, std::string> storedFileDigests(const std::string& specYaml);

} // namespace losslab
