#include "CCurl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static struct {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *handle);
    void (*easy_reset)(CURL *handle);
    CURLcode (*easy_perform)(CURL *handle);
    const char *(*easy_strerror)(CURLcode code);
    CURLcode (*easy_setopt)(CURL *handle, CURLoption option, ...);
    CURLcode (*easy_getinfo)(CURL *handle, CURLINFO info, ...);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *text);
    void (*slist_free_all)(struct curl_slist *list);
} curl;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int loaded = 0;
static char load_error[256] = "";

static void load(void) {
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        const char *reason = dlerror();
        snprintf(load_error, sizeof load_error, "%s", reason != NULL ? reason : "libcurl.so.4 not found");
        return;
    }
#define CCURL_SYMBOL(field, name)                                                                     \
    *(void **)(&curl.field) = dlsym(library, name);                                                  \
    if (curl.field == NULL) {                                                                        \
        snprintf(load_error, sizeof load_error, "libcurl.so.4 has no %s", name);                     \
        return;                                                                                      \
    }
    CCURL_SYMBOL(global_init, "curl_global_init")
    CCURL_SYMBOL(easy_init, "curl_easy_init")
    CCURL_SYMBOL(easy_cleanup, "curl_easy_cleanup")
    CCURL_SYMBOL(easy_reset, "curl_easy_reset")
    CCURL_SYMBOL(easy_perform, "curl_easy_perform")
    CCURL_SYMBOL(easy_strerror, "curl_easy_strerror")
    CCURL_SYMBOL(easy_setopt, "curl_easy_setopt")
    CCURL_SYMBOL(easy_getinfo, "curl_easy_getinfo")
    CCURL_SYMBOL(slist_append, "curl_slist_append")
    CCURL_SYMBOL(slist_free_all, "curl_slist_free_all")
#undef CCURL_SYMBOL
    if (curl.global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
        snprintf(load_error, sizeof load_error, "curl_global_init failed");
        return;
    }
    loaded = 1;
}

int ccurl_load(void) {
    pthread_once(&load_once, load);
    return loaded;
}

const char *ccurl_load_error(void) {
    return ccurl_load() ? "" : load_error;
}

CURL *ccurl_easy_init(void) {
    return ccurl_load() ? curl.easy_init() : NULL;
}

void ccurl_easy_cleanup(CURL *handle) {
    if (ccurl_load()) curl.easy_cleanup(handle);
}

void ccurl_easy_reset(CURL *handle) {
    if (ccurl_load()) curl.easy_reset(handle);
}

CURLcode ccurl_easy_perform(CURL *handle) {
    return ccurl_load() ? curl.easy_perform(handle) : CURLE_FAILED_INIT;
}

const char *ccurl_easy_strerror(CURLcode code) {
    return ccurl_load() ? curl.easy_strerror(code) : "libcurl unavailable";
}

struct curl_slist *ccurl_slist_append(struct curl_slist *list, const char *text) {
    return ccurl_load() ? curl.slist_append(list, text) : NULL;
}

void ccurl_slist_free_all(struct curl_slist *list) {
    if (ccurl_load()) curl.slist_free_all(list);
}

CURLcode ccurl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return ccurl_load() ? curl.easy_setopt(handle, option, value) : CURLE_FAILED_INIT;
}

CURLcode ccurl_setopt_long(CURL *handle, CURLoption option, long value) {
    return ccurl_load() ? curl.easy_setopt(handle, option, value) : CURLE_FAILED_INIT;
}

CURLcode ccurl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return ccurl_load() ? curl.easy_setopt(handle, option, value) : CURLE_FAILED_INIT;
}

CURLcode ccurl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return ccurl_load() ? curl.easy_setopt(handle, option, value) : CURLE_FAILED_INIT;
}

CURLcode ccurl_setopt_read_callback(CURL *handle, ccurl_read_callback callback) {
    return ccurl_load() ? curl.easy_setopt(handle, CURLOPT_READFUNCTION, callback) : CURLE_FAILED_INIT;
}

long ccurl_response_code(CURL *handle) {
    long code = 0;
    if (ccurl_load()) curl.easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &code);
    return code;
}
