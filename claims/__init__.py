"""The claims shipped with pgtheory: one module per topic, installed as ``pgtheory.claims``.

Each module is loaded by file path (``pgtheory.verify.discover``), not imported as a
package member, so a module here is written exactly as a user's own claim module is.
"""
