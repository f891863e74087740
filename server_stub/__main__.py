"""`python -m server_stub run|create-clinic|add-user|enroll-code|devices|revoke-device ...`."""

import sys

from server_stub.cli import main

sys.exit(main())
