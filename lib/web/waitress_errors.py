"""waitress' own refusals (a malformed request line or header, a NUL byte in a header, a
body over its size limit) as the JSON envelope instead of waitress' text/plain page, so a
client sees one kind of answer whatever refused it."""
from waitress.channel import HTTPChannel
from waitress.task import ErrorTask

from ..core import envelope, messages
from .middleware import SECURITY_HEADERS


class JsonErrorTask(ErrorTask):
    def execute(self):
        error = self.request.error
        message = f"{error.reason}: {error.body}".strip().rstrip(".") + "."
        if error.code == 413:
            message = messages.BODY_TOO_LARGE_UNSIZED
        body = envelope.encode(envelope.failure(message))
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend([("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                                      *SECURITY_HEADERS.items()])
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


def install():
    """Make every waitress channel in this process answer its errors as JSON."""
    HTTPChannel.error_task_class = JsonErrorTask
