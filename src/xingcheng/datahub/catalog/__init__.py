"""The data catalogue (数据资源目录): datasets, graded schemas, stored rows, search and graded reads."""
