"""Feedback that never shows hidden tests.

nbgrader's feedback HTML shows the autograded notebook: the hidden tests' source is
back in the test cells, and a failing hidden test prints its traceback. This
preprocessor (GenerateFeedback.preprocessors in grader/classroom/course_config.py) removes
every hidden-test region from the source and replaces the error output of a
cell that had one by a one-line notice.
"""

import nbformat
from nbgrader.preprocessors import ClearHiddenTests

WITHHELD = "A hidden test failed; its details are withheld."


class WithholdHiddenTests(ClearHiddenTests):
    """ClearHiddenTests for feedback: strip the regions and the tracebacks they caused."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code":
            return cell, resources
        removed = self._remove_hidden_test_region(cell)
        if removed:
            outputs = []
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error" or output.get("name") == "stderr":
                    output = nbformat.v4.new_output("stream", name="stdout", text=WITHHELD + "\n")
                outputs.append(output)
            cell.outputs = outputs
        return cell, resources
