"""The population register (常住人口信息汇总表): reading, mapping, planning and committing imports."""
