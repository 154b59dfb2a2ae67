"""Compliance reports (issue 12): `monitor report`, the leaders' API and view.

load.cases(store, now)          the incidents, as monitor.domain.compliance reads them
render.as_json / as_csv / as_html   one Report, three formats (Chinese for readers)
"""
