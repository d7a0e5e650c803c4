#ifndef CCURL_H
#define CCURL_H

#include <curl/curl.h>

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
