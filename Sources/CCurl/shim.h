#include <curl/curl.h>

// libcurl is loaded with dlopen on first use (see module.modulemap), so Swift calls every
// libcurl function through a pointer resolved with dlsym. These typedefs give Swift the exact
// C types to cast those pointers to.
typedef CURLcode (*cidp_curl_global_init_fn)(long flags);
typedef CURL *(*cidp_curl_easy_init_fn)(void);
typedef void (*cidp_curl_easy_cleanup_fn)(CURL *handle);
typedef void (*cidp_curl_easy_reset_fn)(CURL *handle);
typedef CURLcode (*cidp_curl_easy_perform_fn)(CURL *handle);
typedef const char *(*cidp_curl_easy_strerror_fn)(CURLcode code);
typedef struct curl_slist *(*cidp_curl_slist_append_fn)(struct curl_slist *list, const char *string);
typedef void (*cidp_curl_slist_free_all_fn)(struct curl_slist *list);
typedef char *(*cidp_curl_version_fn)(void);
typedef void (*cidp_curl_free_fn)(void *pointer);
// The URL API (7.62+), to compare a redirect's origin with the source's as libcurl parses both.
typedef CURLU *(*cidp_curl_url_fn)(void);
typedef void (*cidp_curl_url_cleanup_fn)(CURLU *handle);
typedef CURLUcode (*cidp_curl_url_set_fn)(CURLU *handle, CURLUPart part, const char *content, unsigned int flags);
typedef CURLUcode (*cidp_curl_url_get_fn)(CURLU *handle, CURLUPart part, char **content, unsigned int flags);

// curl_easy_setopt and curl_easy_getinfo are variadic. Swift must never call a variadic C
// function through a non-variadic type (the calling conventions differ), so each kind of
// argument gets a typed wrapper that makes the variadic call from C.
typedef CURLcode (*cidp_curl_easy_setopt_fn)(CURL *handle, CURLoption option, ...);
typedef CURLcode (*cidp_curl_easy_getinfo_fn)(CURL *handle, CURLINFO info, ...);
typedef size_t (*cidp_curl_write_callback)(char *data, size_t size, size_t count, void *context);
typedef int (*cidp_curl_xferinfo_callback)(void *context, curl_off_t download_total, curl_off_t download_now,
                                           curl_off_t upload_total, curl_off_t upload_now);

static inline CURLcode cidp_curl_setopt_long(cidp_curl_easy_setopt_fn setopt, CURL *handle, CURLoption option, long value) {
    return setopt(handle, option, value);
}
static inline CURLcode cidp_curl_setopt_off_t(cidp_curl_easy_setopt_fn setopt, CURL *handle, CURLoption option, curl_off_t value) {
    return setopt(handle, option, value);
}
static inline CURLcode cidp_curl_setopt_string(cidp_curl_easy_setopt_fn setopt, CURL *handle, CURLoption option, const char *value) {
    return setopt(handle, option, value);
}
static inline CURLcode cidp_curl_setopt_pointer(cidp_curl_easy_setopt_fn setopt, CURL *handle, CURLoption option, void *value) {
    return setopt(handle, option, value);
}
static inline CURLcode cidp_curl_setopt_slist(cidp_curl_easy_setopt_fn setopt, CURL *handle, CURLoption option, struct curl_slist *value) {
    return setopt(handle, option, value);
}
static inline CURLcode cidp_curl_setopt_write_function(cidp_curl_easy_setopt_fn setopt, CURL *handle, cidp_curl_write_callback callback) {
    return setopt(handle, CURLOPT_WRITEFUNCTION, callback);
}
static inline CURLcode cidp_curl_setopt_xferinfo_function(cidp_curl_easy_setopt_fn setopt, CURL *handle, cidp_curl_xferinfo_callback callback) {
    return setopt(handle, CURLOPT_XFERINFOFUNCTION, callback);
}
static inline CURLcode cidp_curl_getinfo_off_t(cidp_curl_easy_getinfo_fn getinfo, CURL *handle, CURLINFO info, curl_off_t *value) {
    return getinfo(handle, info, value);
}
// The string stays libcurl's: valid until the next request on the handle; never freed by the caller.
static inline CURLcode cidp_curl_getinfo_string(cidp_curl_easy_getinfo_fn getinfo, CURL *handle, CURLINFO info, char **value) {
    return getinfo(handle, info, value);
}
static inline CURLcode cidp_curl_getinfo_long(cidp_curl_easy_getinfo_fn getinfo, CURL *handle, CURLINFO info, long *value) {
    return getinfo(handle, info, value);
}
