"""Audio front end: decode + resample (:mod:`.io`), log-mel + patches (:mod:`.mel`).

Every constant lives in :mod:`.params`.
"""
