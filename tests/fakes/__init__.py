"""In-memory fakes of the adapters, for unit tests of the services (no emulator, no Docker).

``installed.install_fakes`` puts each fake in place of its adapter module's public functions,
and fails when a fake lacks one of them, so a fake cannot drift from the adapter it replaces.
"""
