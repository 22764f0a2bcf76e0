"""The kit's autograder: check functions, a pytest front end and result formats.

python -m grader                    # grade exercises/
python -m grader --impl solutions   # grade any directory laid out like exercises/
"""
