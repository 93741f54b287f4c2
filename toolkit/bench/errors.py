"""The benchmark's own user error (bad option values); exit code 2 like every usage error."""

from edgepack.errors import EdgepackError


class BenchUsageError(EdgepackError):
    """An invalid benchmark option: unknown backend, batch size <= 0, ..."""

    exit_code = 2
