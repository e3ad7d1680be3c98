// A visitor built from one lambda per alternative. Used without a generic
// catch-all, std::visit fails to compile when a variant gains an
// alternative no lambda takes: a new event or observation kind is then
// handled everywhere or nowhere builds.
#pragma once

namespace bt {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace bt
