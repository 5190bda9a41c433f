// The `overloaded` helper for std::visit over a set of lambdas.
//
// Owned by: nobody (a header-only utility).
#pragma once

namespace qc {

/// Combines lambdas into one visitor: std::visit(overloaded{[](A&){}, [](B&){}}, v).
template <class... Ts>
struct overloaded : Ts... {
  using Ts::operator()...;
};
/// Deduction guide (clang 14 lacks C++20's aggregate deduction).
template <class... Ts>
overloaded(Ts...) -> overloaded<Ts...>;

}  // namespace qc
