/*
 * init: a minimal PID 1 that runs one command and makes it stoppable.
 *
 * Usage: init PROGRAM [ARGS...]
 *
 * As PID 1 a process ignores SIGTERM unless it installs a handler, and many
 * servers (busybox httpd among them) do not. init starts the command as its
 * child, forwards TERM/INT/HUP/QUIT/USR1/USR2 to it, reaps every child
 * (orphans get re-parented to PID 1), and exits with the command's status.
 * A command killed by a TERM or INT that init forwarded counts as a clean
 * stop: init then exits 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
#define NFORWARDED (int)(sizeof(forwarded) / sizeof(forwarded[0]))

int main(int argc, char **argv)
{
	sigset_t set;
	int stop_requested = 0;
	pid_t child;

	if (argc < 2) {
		fprintf(stderr, "usage: %s PROGRAM [ARGS...]\n", argv[0]);
		return 2;
	}

	/* Block the signals before fork so none is lost; sigwaitinfo takes them
	 * synchronously, so no async-signal-safety concerns. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (int i = 0; i < NFORWARDED; i++)
		sigaddset(&set, forwarded[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);

	child = fork();
	if (child < 0) {
		perror("init: fork");
		return 1;
	}
	if (child == 0) {
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		execvp(argv[1], argv + 1);
		fprintf(stderr, "init: exec %s: %s\n", argv[1], strerror(errno));
		_exit(127);
	}

	for (;;) {
		siginfo_t info;
		int sig = sigwaitinfo(&set, &info);
		if (sig < 0)
			continue; /* EINTR */
		if (sig != SIGCHLD) {
			if (sig == SIGTERM || sig == SIGINT)
				stop_requested = 1;
			kill(child, sig);
			continue;
		}
		/* SIGCHLD: several children may have exited behind one signal. */
		for (;;) {
			int status;
			pid_t pid = waitpid(-1, &status, WNOHANG);
			if (pid <= 0)
				break;
			if (pid != child)
				continue; /* an orphan: reaping it is all we owe */
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			if (stop_requested &&
			    (WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGINT))
				return 0;
			return 128 + WTERMSIG(status);
		}
	}
}
