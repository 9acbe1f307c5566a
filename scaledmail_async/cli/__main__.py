"""``python -m scaledmail_async.cli``: the ``scaledmail`` command line (:func:`main`)."""

from scaledmail_async.cli import main

if __name__ == "__main__":
    main()
