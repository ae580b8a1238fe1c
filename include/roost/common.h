/* roost — what every public header opens and closes its declarations with. */
#ifndef ROOST_COMMON_H
#define ROOST_COMMON_H

/*
 * ROOST_BEGIN_DECLS ... ROOST_END_DECLS wrap the declarations of every public header:
 * C linkage for C++ callers, and default visibility. The library is built with hidden
 * visibility (-fvisibility=hidden), so what it exports is exactly what include/ declares
 * between these two marks, and nothing internal (libuv's UV_EXTERN, one level up: a new
 * public header only has to use the pair, no declaration needs its own mark).
 */
#ifdef __cplusplus
#define ROOST_EXTERN_C_BEGIN_ extern "C" {
#define ROOST_EXTERN_C_END_ }
#else
#define ROOST_EXTERN_C_BEGIN_
#define ROOST_EXTERN_C_END_
#endif

#if defined(__GNUC__) || defined(__clang__)
#define ROOST_BEGIN_DECLS ROOST_EXTERN_C_BEGIN_ _Pragma("GCC visibility push(default)")
#define ROOST_END_DECLS _Pragma("GCC visibility pop") ROOST_EXTERN_C_END_
#else
#define ROOST_BEGIN_DECLS ROOST_EXTERN_C_BEGIN_
#define ROOST_END_DECLS ROOST_EXTERN_C_END_
#endif

#endif
