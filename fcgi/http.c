#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonx.h"

void
http_response_init(struct http_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	resp->status = 200;
	buf_init(&resp->body, HTTP_RESPONSE_MAX);
}

void
http_response_free(struct http_response *resp)
{
	for (int i = 0; i < resp->nheaders; i++)
		free(resp->headers[i].value);
	buf_free(&resp->body);
	resp->nheaders = 0;
}

void
http_header_add(struct http_response *resp, const char *name, const char *fmt, ...)
{
	va_list ap;
	char *value;

	if (resp->nheaders == HTTP_MAX_HEADERS)
		return;
	va_start(ap, fmt);
	if (vasprintf(&value, fmt, ap) < 0)
		value = NULL;
	va_end(ap);
	if (value == NULL)
		return;
	resp->headers[resp->nheaders].name = name;
	resp->headers[resp->nheaders].value = value;
	resp->nheaders++;
}

void
http_response_seal(struct http_response *resp)
{
	if (resp->status < 500)
		return;
	for (int i = 0; i < resp->nheaders; i++)
		if (strcasecmp(resp->headers[i].name, "Retry-After") == 0)
			return;
	http_header_add(resp, "Retry-After", "5");
}

const char *
http_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

void
http_text(struct http_response *resp, int status, const char *type, const char *text)
{
	resp->status = status;
	resp->content_type = type;
	buf_reset(&resp->body);
	buf_adds(&resp->body, text);
}

void
http_bytes(struct http_response *resp, int status, const char *type, const void *data,
    size_t len)
{
	resp->status = status;
	resp->content_type = type;
	buf_reset(&resp->body);
	buf_add(&resp->body, data, len);
}

void
http_rest_data(struct http_response *resp, int status, json_object *data)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "status", json_object_new_string("success"));
	json_object_object_add(o, "data", data);
	http_text(resp, status, "application/json", jsonx_print(o));
	json_object_put(o);
}

void
http_rest_partial(struct http_response *resp, int status, json_object *data,
    const char *message)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "status", json_object_new_string("success"));
	json_object_object_add(o, "data", data);
	json_object_object_add(o, "partial", json_object_new_boolean(true));
	json_object_object_add(o, "message", json_object_new_string(message));
	http_text(resp, status, "application/json", jsonx_print(o));
	json_object_put(o);
}

void
http_rest_error(struct http_response *resp, int status, const char *fmt, ...)
{
	json_object *o = json_object_new_object();
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	jsonx_utf8_sanitize(msg);       /* it may echo bytes of the request */
	json_object_object_add(o, "status", json_object_new_string("error"));
	json_object_object_add(o, "message", json_object_new_string(msg));
	http_text(resp, status, "application/json", jsonx_print(o));
	json_object_put(o);
}
