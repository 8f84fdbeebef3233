/*
 * tlsrpt.h: the libtlsrpt-compatible API of libmtasts (mta-sts-rs).
 *
 * A program written for libtlsrpt 0.5 (the library Postfix 3.10+ records
 * TLS-RPT results with) builds against this header and links against
 * libmtasts, through the name libtlsrpt (-ltlsrpt, pkg-config libtlsrpt;
 * see mta-sts-ffi/README.md). Written from the documented interface of
 * libtlsrpt (names, numbers, semantics), not from its header.
 *
 * Written by hand (cbindgen cannot produce this shape: tag-named opaque
 * structs next to typedef'd enums and the error-code macros); the test
 * tests/tlsrpt_header.rs checks that every function declared here is
 * exported by the library with the same signature as in
 * src/tlsrpt_compat.rs, and that every number here is the library's.
 *
 * Conventions:
 * - Every function returning int gives 0 on success, else an error code:
 *   a call-site block plus errno (TLSRPT_ERR_SOCKET + errno,
 *   TLSRPT_ERR_SENDTO + errno) or an internal code 10xxx
 *   (tlsrpt_error_code_is_internal). tlsrpt_strerror gives its text.
 * - The first error of a delivery request sticks: later calls on it
 *   return that code and do nothing; tlsrpt_finish_delivery_request then
 *   frees it without sending. tlsrpt_cancel_delivery_request returns it.
 * - Handles are made and destroyed through T **: destroying sets *p to
 *   NULL; destroying *p == NULL does nothing (returns 0).
 * - Strings in are NUL-terminated UTF-8, copied during the call. Strings
 *   out are static: never free them.
 * - NULL-safe: a NULL handle or required string gives
 *   TLSRPT_ERR_MTASTS_NULL (never a crash); a NULL connection at
 *   tlsrpt_init_delivery_request gives TLSRPT_ERR_TLSRPT_NOCONNECTION.
 * - Size caps (TLSRPT_ERR_MTASTS_FIELD_TOO_LONG): domain names 255 bytes,
 *   failure detail strings 2048, policy strings, MX patterns and the
 *   record 8192; the datagram 65536 (TLSRPT_ERR_MTASTS_DATAGRAM_TOO_LONG);
 *   16 policies, 256 failure details per policy (TLSRPT_ERR_MTASTS_TOO_MANY).
 * - Threads: a connection may be shared by threads (each with its own
 *   delivery requests); a delivery request is for one thread at a time.
 *   tlsrpt_set_blocking / _nonblocking are process-wide.
 * - No panic unwinds into C: it becomes TLSRPT_ERR_MTASTS_PANIC.
 */
#ifndef TLSRPT_H
#define TLSRPT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The libtlsrpt API version this header describes. */
#define TLSRPT_VERSION_MAJOR 0
#define TLSRPT_VERSION_MINOR 5
#define TLSRPT_VERSION_PATCH 0
#define TLSRPT_VERSION_STRING "0.5.0"

/** Room for a domain name and its NUL. */
#define TLSRPT_MAXDOMAINNAMELEN 256

/** Error-code blocks: a block plus errno, or an internal code. */
#define TLSRPT_ERR_TLSRPT 10000
#define TLSRPT_ERR_SOCKET 11000
#define TLSRPT_ERR_CLOSE 12000
#define TLSRPT_ERR_SENDTO 13000

/** Internal errors (as libtlsrpt). */
#define TLSRPT_ERR_TLSRPT_CANCELLED 10703
#define TLSRPT_ERR_TLSRPT_SOCKETNAMETOOLONG 10711
#define TLSRPT_ERR_TLSRPT_UNFINISHEDPOLICY 10712
#define TLSRPT_ERR_TLSRPT_NOCONNECTION 10713
#define TLSRPT_ERR_TLSRPT_NESTEDPOLICY 10731
#define TLSRPT_ERR_TLSRPT_NOPOLICIES 10732

/** Internal errors added by mta-sts-rs (10801-10899). */
/** A required pointer argument was NULL. */
#define TLSRPT_ERR_MTASTS_NULL 10801
/** A string argument is not UTF-8. */
#define TLSRPT_ERR_MTASTS_INVALID_UTF8 10802
/** A string argument is longer than its cap. */
#define TLSRPT_ERR_MTASTS_FIELD_TOO_LONG 10803
/** The datagram would be longer than 65536 bytes. */
#define TLSRPT_ERR_MTASTS_DATAGRAM_TOO_LONG 10804
/** An enum argument not one of its values, an empty domain or socket name. */
#define TLSRPT_ERR_MTASTS_INVALID_ARGUMENT 10805
/** More than 16 policies or 256 failure details in a policy. */
#define TLSRPT_ERR_MTASTS_TOO_MANY 10806
/** A policy function was called with no policy open. */
#define TLSRPT_ERR_MTASTS_NO_OPEN_POLICY 10807
/** A panic was caught at the C boundary (a bug). */
#define TLSRPT_ERR_MTASTS_PANIC 10899

/** A connection to the collector socket (opaque). */
struct tlsrpt_connection_t;
typedef struct tlsrpt_connection_t tlsrpt_connection_t;

/** One delivery request being built (opaque). */
struct tlsrpt_dr_t;
typedef struct tlsrpt_dr_t tlsrpt_dr_t;

/** Policy types. */
typedef enum tlsrpt_policy_type_t {
  TLSRPT_POLICY_TLSA = 1,
  TLSRPT_POLICY_STS = 2,
  TLSRPT_NO_POLICY_FOUND = 9
} tlsrpt_policy_type_t;

/** The final result of a policy (a session). */
typedef enum tlsrpt_final_result_t {
  TLSRPT_FINAL_SUCCESS = 0,
  TLSRPT_FINAL_FAILURE = 1
} tlsrpt_final_result_t;

/** Failure codes (RFC 8460 result types); 901 is internal. */
typedef enum tlsrpt_failure_t {
  TLSRPT_STARTTLS_NOT_SUPPORTED = 201,
  TLSRPT_CERTIFICATE_HOST_MISMATCH = 202,
  TLSRPT_CERTIFICATE_NOT_TRUSTED = 203,
  TLSRPT_CERTIFICATE_EXPIRED = 204,
  TLSRPT_VALIDATION_FAILURE = 205,
  TLSRPT_STS_POLICY_FETCH_ERROR = 301,
  TLSRPT_STS_POLICY_INVALID = 302,
  TLSRPT_STS_WEBPKI_INVALID = 303,
  TLSRPT_TLSA_INVALID = 304,
  TLSRPT_DNSSEC_INVALID = 305,
  TLSRPT_DANE_REQUIRED = 306,
  TLSRPT_UNFINISHED_POLICY = 901
} tlsrpt_failure_t;

/** 1 when a program built against version major.minor.patch can use this
 * library (same major, minor not newer), else 0. */
int tlsrpt_version_check(int major, int minor, int patch);

/** The libtlsrpt version implemented, "0.5.0" (static). */
const char *tlsrpt_version(void);

/** Open a datagram socket for the collector socket `socketname` (no
 * connect: the collector need not run; the first send connects it, see
 * the crate README). *pcon is the connection, or NULL
 * on an error. Errors: TLSRPT_ERR_MTASTS_NULL, _INVALID_UTF8,
 * _INVALID_ARGUMENT (empty), TLSRPT_ERR_TLSRPT_SOCKETNAMETOOLONG (107
 * bytes at most), TLSRPT_ERR_SOCKET + errno. */
int tlsrpt_open(struct tlsrpt_connection_t **pcon, const char *socketname);

/** Close the connection, set *pcon to NULL (*pcon NULL: nothing, 0).
 * Finish or cancel its delivery requests first. */
int tlsrpt_close(struct tlsrpt_connection_t **pcon);

/** The connection's socket descriptor (-1 for NULL); do not close it. */
int tlsrpt_get_socket(struct tlsrpt_connection_t *con);

/** Start a delivery request to `domainname` whose _smtp._tls record is
 * `policyrecord` (NULL: left out). *pdr is the request, or NULL on an
 * error. The connection must stay open until the request is finished or
 * cancelled. Errors: TLSRPT_ERR_MTASTS_NULL, TLSRPT_ERR_TLSRPT_NOCONNECTION,
 * _INVALID_UTF8, _FIELD_TOO_LONG, _INVALID_ARGUMENT (empty domain). */
int tlsrpt_init_delivery_request(struct tlsrpt_dr_t **pdr,
                                 struct tlsrpt_connection_t *con,
                                 const char *domainname,
                                 const char *policyrecord);

/** Start a policy (NULL or empty `policydomainname`: the delivery domain).
 * Errors (sticky): TLSRPT_ERR_TLSRPT_NESTEDPOLICY, TLSRPT_ERR_MTASTS_TOO_MANY,
 * _INVALID_ARGUMENT, _INVALID_UTF8, _FIELD_TOO_LONG, _DATAGRAM_TOO_LONG. */
int tlsrpt_init_policy(struct tlsrpt_dr_t *dr, tlsrpt_policy_type_t policy_type,
                       const char *policydomainname);

/** Add a policy string to the open policy. Errors (sticky):
 * TLSRPT_ERR_MTASTS_NULL, _NO_OPEN_POLICY, _INVALID_UTF8, _FIELD_TOO_LONG,
 * _DATAGRAM_TOO_LONG. */
int tlsrpt_add_policy_string(struct tlsrpt_dr_t *dr, const char *policystring);

/** Add an MX host pattern to the open policy. Errors as
 * tlsrpt_add_policy_string. */
int tlsrpt_add_mx_host_pattern(struct tlsrpt_dr_t *dr, const char *mx_host_pattern);

/** Add a failure detail to the open policy; every string may be NULL
 * (left out). Errors (sticky): TLSRPT_ERR_MTASTS_NO_OPEN_POLICY,
 * _INVALID_ARGUMENT (code), _TOO_MANY, _INVALID_UTF8, _FIELD_TOO_LONG,
 * _DATAGRAM_TOO_LONG. */
int tlsrpt_add_delivery_request_failure(struct tlsrpt_dr_t *dr,
                                        tlsrpt_failure_t failure_code,
                                        const char *sending_mta_ip,
                                        const char *receiving_mx_hostname,
                                        const char *receiving_mx_helo,
                                        const char *receiving_ip,
                                        const char *additional_information,
                                        const char *failure_reason_code);

/** Finish the open policy. Errors (sticky): TLSRPT_ERR_MTASTS_NO_OPEN_POLICY,
 * _INVALID_ARGUMENT. */
int tlsrpt_finish_policy(struct tlsrpt_dr_t *dr, tlsrpt_final_result_t final_result);

/** Send the datagram unless an earlier call on the request failed (then
 * return that error, send nothing); free the request; set *pdr to NULL.
 * A policy left open is closed as a failed session with failure
 * TLSRPT_UNFINISHED_POLICY, sent, and TLSRPT_ERR_TLSRPT_UNFINISHEDPOLICY
 * returned. Errors: TLSRPT_ERR_MTASTS_NULL, TLSRPT_ERR_TLSRPT_NOPOLICIES,
 * _DATAGRAM_TOO_LONG, TLSRPT_ERR_SENDTO + errno. */
int tlsrpt_finish_delivery_request(struct tlsrpt_dr_t **pdr);

/** Discard the request without sending, free it, set *pdr to NULL;
 * returns its sticky error (0 if none). *pdr NULL: nothing, 0. */
int tlsrpt_cancel_delivery_request(struct tlsrpt_dr_t **pdr);

/** Sends block from now on (process-wide). */
void tlsrpt_set_blocking(void);

/** Sends do not block from now on (the default): a full queue gives
 * TLSRPT_ERR_SENDTO + EAGAIN. */
void tlsrpt_set_nonblocking(void);

/** Accepted for compatibility and ignored (the library uses its own
 * allocator; nothing it returns is freed by the caller). */
void tlsrpt_set_malloc_and_free(void *(*malloc_function)(size_t),
                                void (*free_function)(void *));

/** errorcode % 1000: the errno of a socket/close/sendto error code. */
int tlsrpt_errno_from_error_code(int errorcode);

/** 1 for an internal code (10000-10999), else 0. */
int tlsrpt_error_code_is_internal(int errorcode);

/** A static text for any error code (never NULL; do not free). */
const char *tlsrpt_strerror(int errorcode);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TLSRPT_H */
