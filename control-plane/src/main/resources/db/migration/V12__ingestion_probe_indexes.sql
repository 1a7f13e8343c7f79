-- Two lookups that ingestion makes for every batch find (almost) nothing: provisional MISSED
-- records to supersede, and output cut ranges of the runs a batch has chunks for. Both matched
-- runs by id through the primary key (id, fire_time); when a month's partition has no column
-- statistics yet (its first minute, before autoanalyze) the planner cannot tell that an id is
-- unique and scanned the whole month instead, once per batch. These partial indexes hold only the
-- rows each lookup wants, so they stay nearly empty and are cheap to keep: a run enters them only
-- while it is a provisional record or once its output was cut. See docs/runs-and-logs.md.
--
-- Created on the partitioned table, so every partition gets them, and ATTACH PARTITION builds
-- them on the months RunPartitions creates later. Building them reads each partition once under
-- a SHARE lock (writes to runs wait), as any migration here runs before the control plane serves.
CREATE INDEX runs_provisional ON runs (id, fire_time) WHERE provisional;
CREATE INDEX runs_output_cut ON runs (id) WHERE output_cut_from_sequence IS NOT NULL;
