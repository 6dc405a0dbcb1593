-- A hurried rollback of Archon 0.1.0/011, for the AP403 agreement measurement (bench/rollback_agreement.py).
DROP TABLE archon_page_metadata CASCADE;
