// Early-return helpers for absl::Status and absl::StatusOr.
//
// The Abseil release kgw builds against ships no public macros for this, and
// every fallible path in kgw returns a Status, so these keep such code flat:
//
//   absl::StatusOr<Frame> ReadFrame(Reader& r) {
//     KGW_ASSIGN_OR_RETURN(int32_t size, r.ReadInt32("size"));
//     KGW_RETURN_IF_ERROR(r.Require(size, "frame body"));
//     ...
//   }
//
// Both macros evaluate their argument exactly once and return the error
// unchanged, so the message that reaches the caller is the one the failing
// function wrote.
#ifndef KGW_COMMON_STATUS_STATUS_MACROS_H_
#define KGW_COMMON_STATUS_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define KGW_STATUS_CONCAT_INNER_(a, b) a##b
#define KGW_STATUS_CONCAT_(a, b) KGW_STATUS_CONCAT_INNER_(a, b)

// Returns the status of `expr` from the enclosing function unless it is OK.
#define KGW_RETURN_IF_ERROR(expr)                                   \
  do {                                                              \
    if (absl::Status kgw_status_ = (expr); !kgw_status_.ok()) {     \
      return kgw_status_;                                           \
    }                                                               \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status from
// the enclosing function, otherwise moves the value into `lhs`, which may be a
// declaration (`auto x`) or an existing lvalue.
#define KGW_ASSIGN_OR_RETURN(lhs, rexpr) \
  KGW_ASSIGN_OR_RETURN_IMPL_(KGW_STATUS_CONCAT_(kgw_statusor_, __LINE__), lhs, rexpr)

#define KGW_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                               \
  if (!statusor.ok()) {                                  \
    return std::move(statusor).status();                 \
  }                                                      \
  lhs = *std::move(statusor)

#endif  // KGW_COMMON_STATUS_STATUS_MACROS_H_
