// Whether this test program is built with AddressSanitizer (tools/check --sanitize). Its
// quarantine keeps freed memory resident for a while, so tests that measure the process's
// memory skip that check under it.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define TGTEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TGTEST_ASAN 1
#endif
#endif
#ifndef TGTEST_ASAN
#define TGTEST_ASAN 0
#endif

namespace tgtest {
inline constexpr bool kAddressSanitizer = TGTEST_ASAN != 0;
}  // namespace tgtest
