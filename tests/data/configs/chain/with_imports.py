import math
from collections import OrderedDict

def helper(x):
    return x * 2

radius = helper(math.floor(2.7))
ordered = OrderedDict  # a class is a value and stays
