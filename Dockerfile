# The single-user image for a class that outgrows one machine: The Littlest JupyterHub with a Docker
# spawner, or Zero to JupyterHub on Kubernetes (README, "Teaching a class"). The course's environment.yml,
# the data baked in (offline, from Debian packages and helpers.prepare), `helpers` installed (not
# editable: no teacher's tree in the image), the student copies, and nbgrader configured for students
# (Assignments tab only) and for the teacher (JUPYTER_CONFIG_PATH=/opt/conda/etc/jupyter-teacher).
#   make student && docker build -t fdl-companion-singleuser:0.1.0 .
# tests/test_classroom_image.py checks this file (a dry run) where docker cannot build.
FROM mambaorg/micromamba:1.5.8-bookworm-slim

USER root
# the offline data's Debian packages and bubblewrap (the grading sandbox): the same list as tools/system_packages.sh
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        dataset-fashion-mnist tuxpaint-stamps-default gcompris-qt-data bubblewrap \
    && rm -rf /var/lib/apt/lists/*

# the environment: every pin from environment.yml (jupyterhub, jupyterlab and nbgrader among them)
COPY environment.yml /tmp/environment.yml
RUN micromamba install -y -n base -f /tmp/environment.yml && micromamba clean -a -y && rm /tmp/environment.yml
ARG MAMBA_DOCKERFILE_ACTIVATE=1
ENV PATH=/opt/conda/bin:$PATH

# helpers, installed from the repository as a package (the wheel the local classroom installs, too)
COPY pyproject.toml README.md /tmp/course/
COPY helpers /tmp/course/helpers
RUN python -m pip install --no-deps --no-cache-dir /tmp/course && rm -rf /tmp/course

# the data, baked in and read-only
ENV COURSE_DATA=/opt/course/data
RUN python -m helpers.prepare && chmod -R a+rX,go-w /opt/course/data

# nbgrader: students get the Assignments tab only; the teacher's pod adds /opt/conda/etc/jupyter-teacher
COPY tools/classroom /opt/course/tools/classroom
RUN python /opt/course/tools/classroom image-config --prefix /opt/conda \
        --exchange /srv/nbgrader/exchange --course /home/jovyan/course

# the student copies (make student), for a teacher who hands them out without the exchange
COPY build/student /opt/course/student

RUN useradd --create-home --uid 1000 --shell /bin/bash jovyan
USER 1000
WORKDIR /home/jovyan
ENV OMP_NUM_THREADS=1
CMD ["jupyterhub-singleuser"]
