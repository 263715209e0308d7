/*
 * echo: a tiny HTTP/1.1 server for demos.
 *
 * Usage: echo VERSION    (listens on $PORT, default 8080)
 *
 * Every request gets "200 OK" with the body "echo vVERSION from HOSTNAME\n"
 * (in a pod the hostname is the pod's name) and "Connection: close".
 * Clients are served one after another; a 2 s socket timeout bounds how long
 * a silent client can hold up the others. One line per request goes to stdout so that
 * `kubectl logs` shows traffic. SIGTERM/SIGINT exit 0 at once: as PID 1 the
 * kernel would otherwise drop them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define REQUEST_MAX 8192

static void on_stop(int sig)
{
	(void)sig;
	_exit(0);
}

static void set_timeout(int fd, int seconds)
{
	struct timeval tv = { .tv_sec = seconds, .tv_usec = 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Listen on every address: IPv6 dual-stack when the kernel has IPv6, IPv4
 * otherwise (pods often have IPv6 disabled). */
static int listen_on(int port)
{
	int one = 1, zero = 0;
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd >= 0) {
		struct sockaddr_in6 a6 = { 0 };
		a6.sin6_family = AF_INET6;
		a6.sin6_port = htons(port);
		a6.sin6_addr = in6addr_any;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (bind(fd, (struct sockaddr *)&a6, sizeof(a6)) == 0 && listen(fd, 64) == 0)
			return fd;
		close(fd);
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a4 = { 0 };
	a4.sin_family = AF_INET;
	a4.sin_port = htons(port);
	a4.sin_addr.s_addr = htonl(INADDR_ANY);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a4, sizeof(a4)) == 0 && listen(fd, 64) == 0)
		return fd;
	close(fd);
	return -1;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads until the end of the request headers, EOF, a full buffer or the
 * receive timeout. Returns the bytes read (NUL-terminated in buf). */
static size_t read_request(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	while (len + 1 < cap) {
		ssize_t r = read(fd, buf + len, cap - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			break;
	}
	buf[len] = '\0';
	return len;
}

/* Copies the first space-separated word of *src into dst (at most cap-1
 * printable bytes) and advances *src past it. */
static void next_word(const char **src, char *dst, size_t cap)
{
	const char *s = *src;
	size_t n = 0;
	while (*s == ' ')
		s++;
	while (*s && *s != ' ' && *s != '\r' && *s != '\n') {
		if (n + 1 < cap)
			dst[n++] = (*s > 32 && *s < 127) ? *s : '?';
		s++;
	}
	dst[n] = '\0';
	*src = s;
}

static void client_address(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		/* Show IPv4 clients of the dual-stack socket as plain IPv4. */
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
			inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], out, cap);
		else
			inet_ntop(AF_INET6, &a->sin6_addr, out, cap);
	} else if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, cap);
	} else {
		snprintf(out, cap, "?");
	}
}

static void serve(int fd, const char *version, const struct sockaddr_storage *peer)
{
	static char req[REQUEST_MAX];
	char method[16], path[256], host[256], client[INET6_ADDRSTRLEN];
	char body[512], head[256];
	const char *cursor = req;

	set_timeout(fd, 2);
	if (read_request(fd, req, sizeof(req)) == 0) {
		/* Connected and sent nothing (a TCP probe, say): no reply, no log. */
		close(fd);
		return;
	}
	next_word(&cursor, method, sizeof(method));
	next_word(&cursor, path, sizeof(path));

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	int body_len = snprintf(body, sizeof(body), "echo v%s from %s\n", version, host);
	if (body_len < 0 || body_len >= (int)sizeof(body))
		body_len = (int)strlen(body);
	int head_len = snprintf(head, sizeof(head),
				"HTTP/1.1 200 OK\r\n"
				"Content-Type: text/plain; charset=utf-8\r\n"
				"Content-Length: %d\r\n"
				"Connection: close\r\n\r\n",
				body_len);
	if (write_all(fd, head, (size_t)head_len) == 0 && strcmp(method, "HEAD") != 0)
		write_all(fd, body, (size_t)body_len);

	client_address(peer, client, sizeof(client));
	printf("%s \"%s %s\" 200\n", client, method[0] ? method : "-", path[0] ? path : "-");
	fflush(stdout);

	/* Lingering close: stop sending, then drain what the client still sends
	 * (a request body, say) so close() does not reset the connection before
	 * the client has read the response. */
	shutdown(fd, SHUT_WR);
	set_timeout(fd, 1);
	for (int i = 0; i < 128 && read(fd, req, sizeof(req)) > 0; i++)
		;
	close(fd);
}

int main(int argc, char **argv)
{
	const char *version = argc > 1 ? argv[1] : "0";
	const char *port_env = getenv("PORT");
	int port = port_env ? atoi(port_env) : 8080;
	struct sigaction sa = { 0 };

	if (port <= 0 || port > 65535) {
		fprintf(stderr, "echo: invalid PORT %s\n", port_env);
		return 2;
	}
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a client that hangs up must not kill us */

	int lfd = listen_on(port);
	if (lfd < 0) {
		perror("echo: listen");
		return 1;
	}
	printf("echo v%s listening on port %d\n", version, port);
	fflush(stdout);

	for (;;) {
		struct sockaddr_storage peer;
		socklen_t peer_len = sizeof(peer);
		int fd = accept(lfd, (struct sockaddr *)&peer, &peer_len);
		if (fd < 0)
			continue; /* EINTR, ECONNABORTED, ...: keep serving */
		serve(fd, version, &peer);
	}
}
