from posekit.registry import Registry

THINGS = Registry('THINGS', package='regpkg.things')
