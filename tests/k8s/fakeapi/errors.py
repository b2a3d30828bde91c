"""Errors: ApiError, which the HTTP handler turns into a Status body with
its code, and the common kinds of it (NotFound, BadRequest, Invalid).
"""



class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            st["details"] = self.details
        return st


def not_found(rt, name):
    d = {"name": name, "kind": rt.plural}
    if rt.group:
        d["group"] = rt.group
    return ApiError(404, "NotFound", '%s "%s" not found' % (rt.gr, name), d)


def bad_request(msg):
    return ApiError(400, "BadRequest", msg)


def invalid(rt, name, msg):
    d = {"name": name, "kind": rt.kind}
    if rt.group:
        d["group"] = rt.group
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (rt.kind, name, msg), d)
