// What libtapegrad exports. The library is compiled with -fvisibility=hidden and
// -fvisibility-inlines-hidden: its kernels, template instantiations and internal helpers
// stay inside it (a smaller dynamic symbol table, direct calls instead of PLT calls, and
// code the linker may drop), and only the public API is visible to programs, REPLs and
// bindings. Every public header brackets its declarations with
//
//   #include "tapegrad/export.hpp"
//   TG_PUBLIC_BEGIN
//   ... declarations ...
//   TG_PUBLIC_END
//
// so whatever it declares is exported (test/scripts/public_exports.sh checks each header
// does). TG_API exports one declaration from an internal header (a test's probe).
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define TG_API __attribute__((visibility("default")))
#define TG_PUBLIC_BEGIN _Pragma("GCC visibility push(default)")
#define TG_PUBLIC_END _Pragma("GCC visibility pop")
#else
#define TG_API
#define TG_PUBLIC_BEGIN
#define TG_PUBLIC_END
#endif
