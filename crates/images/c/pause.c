/*
 * pause: the process that holds a pod sandbox's namespaces open.
 *
 * It sleeps forever, exits 0 on SIGTERM/SIGINT (as PID 1 the kernel drops
 * signals that have no handler, so the handlers are what make it stoppable),
 * and reaps children re-parented to it so no zombies pile up in the pod.
 */
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig)
{
	(void)sig;
	_exit(0);
}

static void on_child(int sig)
{
	(void)sig;
	/* Reap every exited child; WNOHANG so the handler never blocks. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static void handle(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa = { 0 };
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

int main(void)
{
	handle(SIGTERM, on_stop, 0);
	handle(SIGINT, on_stop, 0);
	handle(SIGCHLD, on_child, SA_NOCLDSTOP | SA_RESTART);
	for (;;)
		pause();
}
