"""What the test servers of tests/e2e/http/ share: telling the test script
which ports they listen on."""
import os


def publish(directory, ports):
    """Writes each (name, port) of `ports` to the file DIRECTORY/NAME, whole
    or not at all (a script polls for it); the last one last."""
    for name, value in ports:
        tmp = os.path.join(directory, name + ".tmp")
        with open(tmp, "w") as f:
            f.write("%d\n" % value)
        os.rename(tmp, os.path.join(directory, name))
