import sys
from pathlib import Path

# the helpers next to the tests (compliance_parsers, compliance_daemons, ...) import by name
sys.path.insert(0, str(Path(__file__).parent))
