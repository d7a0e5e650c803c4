#ifndef CCURL_H
#define CCURL_H

#include <curl/curl.h>

/*
 * libcurl, loaded the first time it is needed (dlopen of libcurl.so.4, then curl_global_init), not
 * when the process starts: it and the libraries it brings (TLS, Kerberos, LDAP, SSH…) are only
 * mapped in a gateway that sends e-mail. Every function here is safe to call when libcurl cannot be
 * loaded: ccurl_easy_init then answers NULL, the others an error or nothing.
 */

/* 1 once libcurl is loaded and initialised, 0 when it cannot be (ccurl_load_error says why). */
int ccurl_load(void);
const char *ccurl_load_error(void);

CURL *ccurl_easy_init(void);
void ccurl_easy_cleanup(CURL *handle);
void ccurl_easy_reset(CURL *handle);
CURLcode ccurl_easy_perform(CURL *handle);
const char *ccurl_easy_strerror(CURLcode code);
struct curl_slist *ccurl_slist_append(struct curl_slist *list, const char *text);
void ccurl_slist_free_all(struct curl_slist *list);

/* Swift cannot call the variadic curl_easy_setopt; these typed wrappers can be called. */
CURLcode ccurl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode ccurl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode ccurl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode ccurl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);

typedef size_t (*ccurl_read_callback)(char *buffer, size_t size, size_t count, void *userdata);
CURLcode ccurl_setopt_read_callback(CURL *handle, ccurl_read_callback callback);

/* The SMTP server's last response code (e.g. 250, 550). */
long ccurl_response_code(CURL *handle);

#endif
