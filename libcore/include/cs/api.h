/*
 * libcore/include/cs/api.h
 *      CS_API: what marks a declaration as part of libcscore's exported interface.
 *
 * libcore is compiled with hidden visibility (-fvisibility=hidden), so a symbol leaves the shared
 * library only when its declaration in a public header (libcore/include/cs/) says CS_API. Internal
 * functions (cs__*, declared in libcore/src/ headers) stay inside the library whatever their
 * linkage; tests that need them link the static variant of libcore (cscore_static).
 * tests/contract/exported_symbols.sh checks the rule on the built library: every exported
 * function starts with cs_, and no cs__ name is exported.
 */
#ifndef CS_API_H
#define CS_API_H

#if defined(__GNUC__) || defined(__clang__)
#define CS_API __attribute__((visibility("default")))
#else
#define CS_API
#endif

#endif /* CS_API_H */
