-- A hurried rollback of Archon 0.1.0/005, for the AP403 agreement measurement (bench/rollback_agreement.py).
DROP FUNCTION match_archon_code_examples;
DROP FUNCTION match_archon_crawled_pages;
DROP FUNCTION match_archon_code_examples_multi;
DROP FUNCTION match_archon_crawled_pages_multi;
DROP FUNCTION get_embedding_column_name;
DROP FUNCTION detect_embedding_dimension;
