// CRC-32C (Castagnoli, the polynomial iSCSI, ext4 and etcd's successors
// use): the checksum of every record in the Raft log's segment files.
// SSE4.2's crc32 instruction when the CPU has it, a table otherwise; both
// give the same values.
//
// Owned by: nobody (pure functions); any thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qc::db {

/// Extends `crc` (0 to start) over `len` bytes at `data`. crc32c("123456789") = 0xe3069283.
std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t len) noexcept;

}  // namespace qc::db
