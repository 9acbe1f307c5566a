"""``python -m scaledmail_async``: the ``scaledmail`` command line (:mod:`scaledmail_async.cli`)."""

from scaledmail_async.cli import main

if __name__ == "__main__":
    main()
